"""iamkb: an offline knowledge base for IAM in Amazon EC2 Auto Scaling.

Stages (one module or package each, data flows one way; see DESIGN.md):
sources -> parse -> kb -> reference -> search / site; policy is used by examples, check, simulate and the API.
"""

__version__ = "0.1.0"
