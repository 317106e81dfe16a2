"""Routers per audience; every route declares who may call it."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
