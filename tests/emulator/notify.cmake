# Conformance of the emulator's SSM Parameter Store and SNS (notifications), driven by boto3.
eb_script_test(emulator_notify_conformance
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/emulator/notify_conformance_test.py
  LABELS python TIMEOUT 120)
