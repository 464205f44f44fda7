"""Modal forms: ModalScreen[Result] subclasses that dismiss() a value."""
