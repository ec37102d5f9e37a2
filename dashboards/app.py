"""Dunning Desk dashboard: `streamlit run dashboards/app.py` (the warehouse comes from env DUNNING_WAREHOUSE).

The entrypoint only sets the page up, shows which warehouse is being read and hands over to st.navigation; every
page lives in app_pages/, every query in data.py, every figure in charts.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import streamlit as st

from dashboards import data
from dashboards.app_pages import PAGES

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="Dunning Desk", layout="wide", initial_sidebar_state="expanded")

pages = [st.Page(str(HERE / path), title=title, url_path=url, default=i == 0)
         for i, (path, title, url) in enumerate(PAGES)]
navigation = st.navigation(pages)

with st.sidebar:
    st.markdown("**Dunning Desk** · collections analytics")
    path = data.warehouse_path()
    try:
        stamp = data.current().stamp()
        built = dt.datetime.fromtimestamp(stamp[1] / 1e9).strftime("%d %b %Y %H:%M")
        st.caption(f"Warehouse file updated {built}")
    except data.WarehouseUnavailable:
        st.caption("No warehouse yet")
    st.caption("Reading:")
    st.code(str(path), language=None, wrap_lines=True)

try:
    navigation.run()
except data.WarehouseUnavailable as exc:  # the file vanished or was replaced by an unusable one mid-run
    from dashboards.app_pages.common import show_build_help

    show_build_help(exc)
except duckdb.Error as exc:  # a warehouse from another version lacks a table this page reads
    from dashboards.app_pages.common import plain

    st.error("This page could not read the warehouse: " + plain(str(exc).splitlines()[0]))
    st.caption("Rebuild the warehouse with this version: dunning build --raw DIR --warehouse FILE")
