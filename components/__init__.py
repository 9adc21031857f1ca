"""The NLU pipeline's own components (config.yml): the Chinese normalizer, the language detector,
the pinyin featurizer and the learned aspect classifier.

Layer: Rasa pipeline extensions, below the adapters; import nothing of the project.
"""
