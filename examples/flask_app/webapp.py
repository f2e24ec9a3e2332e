"""The Flask app, made once: the server holds this object for the program's life."""

from flask import Flask

app = Flask(__name__)
