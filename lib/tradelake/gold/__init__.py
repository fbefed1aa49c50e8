"""Gold: the point-in-time feature snapshots of shared/spec/features.md.

Where things are:
  facts.py                  every state of every invoice, shipment and supplier, as known day by day
  ledger.py                 components, the ledger of their changes, running totals for any as-of date
  supplier_scorecard.py     gold.supplier_scorecard: components + each feature's formula by its spec line
  supplier_credit.py        gold.supplier_credit_features
  buyer_credit.py           gold.buyer_credit_features
  lane_performance.py       gold.lane_performance
  buyer_default_labels.py   gold.buyer_default_labels
  compute.py                the pure pipeline: silver DataFrames -> gold DataFrames (range or one day)
  job.py                    reading, writing, the daily incremental step; `tradelake run features`
  training.py               training sets: buyer features joined to their labels
How the choices features.md leaves open were made: docs/gold_features.md.
"""
