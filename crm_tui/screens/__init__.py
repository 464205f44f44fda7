"""The screens of the app: one module per main screen, modal forms under `modals/`."""
