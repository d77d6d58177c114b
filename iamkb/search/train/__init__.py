"""Training and evaluation of search: the question set and its scores (evaluate), the rerank's weights under
cross-validation (tune) and the learned rankers' fit (fit). The runtime (iamkb.search and its stages) never
imports this package; `iamkb eval` and the benchmarks do.
"""
