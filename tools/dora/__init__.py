"""The DORA report: delivery events from the metrics bucket -> Markdown summary and HTML plots.

    python -m tools.dora --bucket B --endpoint URL --region R --out DIR   (make report)

``events`` reads the bucket (boto3), ``metrics`` computes the figures (pandas), ``render``
writes the summary and the page (plotly). Definitions: docs/dora-metrics.md.
"""
