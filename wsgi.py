from edc import create_app

app = create_app()
