"""``python -m train`` (what ``torchrun ... -m train`` runs): the ``train`` command."""

from train.cli import main

if __name__ == "__main__":
    main()
