# Monitoring and IAM artefacts: alert rules and their promtool unit tests, the Grafana dashboard
# (structure, then every query against a real Prometheus scraping the real controller), and the
# iam-policy command. Debian's prometheus package provides /usr/bin/prometheus and promtool.
eb_script_test(observability_prometheus_rules
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/prometheus_rules_test.py LABELS python TIMEOUT 180)
eb_script_test(observability_iam_policy
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/iam_policy_test.py LABELS python TIMEOUT 120)
eb_script_test(observability_iam_policy_leader
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/iam_policy_leader_test.py LABELS python TIMEOUT 120)
eb_script_test(observability_dashboard_prometheus
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/dashboard_prometheus_test.py LABELS python TIMEOUT 300)
