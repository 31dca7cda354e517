"""Helpers of bench/dispatch.py that its Celery workers import (the naive baseline's task)."""
