"""APP attribute that is not callable: esg must exit 3."""

app = 42
