"""Train a CIFAR-10 net of the paper (Sec. 4.2): a thin wrapper around keras_resnet_paper.train.

    python examples/train_cifar10.py --model resnet110            # the full 64k-iteration recipe
    python examples/train_cifar10.py --model resnet20 --offline   # no network: digits, a few minutes on CPU

Every flag of `python -m keras_resnet_paper.train` works here; this only sets the recipe default.
"""

# A command: the package starts it as its own commands (no framework notices, interruptible from its
# first second; keras_resnet_paper/startup.py). Set before anything imports TensorFlow.
KERAS_RESNET_PAPER_COMMAND = True

from absl import flags

from keras_resnet_paper import train

flags.FLAGS.set_default("recipe", "cifar10_paper")
flags.FLAGS.set_default("model", "resnet20")

if __name__ == "__main__":
    train.run()
