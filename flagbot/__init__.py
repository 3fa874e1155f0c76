"""flagbot: finds abuse on wiki talk pages and privately tells the people who can act."""

__version__ = "0.1.0"
