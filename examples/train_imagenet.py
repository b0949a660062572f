"""Train an ImageNet net of the paper (Sec. 3.4): a thin wrapper around keras_resnet_paper.train.

    python examples/train_imagenet.py --model resnet50 --data_dir /data/tfds --strategy mirrored \
        --precision mixed_float16 --jit_compile
    # many machines: the same command on each with TF_CONFIG set and --strategy multi_worker

Every flag of `python -m keras_resnet_paper.train` works here; this only sets the recipe default.
"""

# A command: the package starts it as its own commands (no framework notices, interruptible from its
# first second; keras_resnet_paper/startup.py). Set before anything imports TensorFlow.
KERAS_RESNET_PAPER_COMMAND = True

from absl import flags

from keras_resnet_paper import train

flags.FLAGS.set_default("recipe", "imagenet_paper")
flags.FLAGS.set_default("model", "resnet50")

if __name__ == "__main__":
    train.run()
