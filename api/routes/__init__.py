"""Routers per audience; every route declares who may call it."""

from fastapi import APIRouter

from api.routes.codec import router as codec_router
from api.routes.metrics import router as metrics_router

ROUTERS: list[APIRouter] = []
ROUTERS.append(codec_router)
ROUTERS.append(metrics_router)
