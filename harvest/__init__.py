"""harvest: collectors that append verified images and their metadata to a manifest."""
