"""Interactive views built on ipywidgets: the live chat view, the controls panel and the exploration grid."""
