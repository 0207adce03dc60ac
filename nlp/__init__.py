"""NLP: segmentation, classification, risk flags, keywords, places and near-duplicates."""
