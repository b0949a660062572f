"""`python -m keras_resnet_paper.reproduce EXPERIMENT`: see keras_resnet_paper/reproduce/command.py."""

from keras_resnet_paper.reproduce.command import run

if __name__ == "__main__":
    run()
