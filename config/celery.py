from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("beacon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _tune_pool_process(**kwargs: object) -> None:
    """Each prefork pool process, once started (config.process)."""
    from config.process import tune_garbage_collector

    tune_garbage_collector()
