"""Interactive views built on ipywidgets: the controls panel and the exploration grid."""
