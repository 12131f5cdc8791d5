"""train: fine-tune a torchvision model from a curated manifest."""
