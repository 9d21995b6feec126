"""The dashboard's entry point: ``streamlit run ui/app.py`` (what ``kgrec ui`` starts).

It reads the same settings as the ``kgrec`` command (``KGREC_HOME``, ``KGREC_GRAPH_URI``,
``KGREC_GRAPH``, …), so it shows the configured store: the embedded FalkorDB by default (started
if it is not running), Neo4j when ``KGREC_GRAPH_URI`` is set.
"""

from __future__ import annotations

import streamlit as st

from kg_store import StoreError
from ui import data
from ui.views import explore, models, overview, query, recommend, similar

# Each page at its own URL path (``/overview``, ``/explore``, ...). No bare string literals at
# the top level of this script: Streamlit's magic would write them on every page.
OVERVIEW = st.Page(overview.render, title="Overview", icon=":material/insights:",
                   url_path="overview")  # fmt: skip
PAGES = [
    OVERVIEW,
    st.Page(explore.render, title="Explore", icon=":material/hub:", url_path="explore"),
    st.Page(query.render, title="Query", icon=":material/terminal:", url_path="query"),
    st.Page(recommend.render, title="Recommend", icon=":material/recommend:",
            url_path="recommend"),
    st.Page(models.render, title="Models", icon=":material/monitoring:", url_path="models"),
    st.Page(similar.render, title="Similar", icon=":material/join_inner:", url_path="similar"),
]  # fmt: skip


def _home() -> None:
    """The bare ``/``: the Overview, at its own path."""
    st.switch_page(OVERVIEW)


# Streamlit serves its default page at ``/`` only, whatever its ``url_path``: a default Overview
# would make ``/overview`` answer "Page not found". So the default is this hidden page, which
# sends the bare URL on to the Overview's own path.
HOME = st.Page(_home, title="Overview", url_path="", default=True, visibility="hidden")


def main() -> None:
    st.set_page_config(page_title="kgrec", page_icon=":material/movie:", layout="wide")
    page = st.navigation([HOME, *PAGES])
    with st.sidebar:
        st.markdown("**kgrec** · explainable video recommendation")
        try:
            with st.spinner("Connecting to the graph store…"):
                where = data.store().describe()
        except StoreError as e:
            st.error(f"The graph store is not reachable: {data.plain_error(e)}")
            st.stop()
        st.caption(where)
        if st.button("Refresh data", help="Forget cached query answers"):
            st.cache_data.clear()
    page.run()


main()
