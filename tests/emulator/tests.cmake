# Tests of the local AWS API emulator (tests/emulator). Script tests on Debian's Python with
# python3-botocore/boto3; each starts its own emulator on a free loopback port.
eb_script_test(emulator_conformance
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/emulator/conformance_test.py
  LABELS python TIMEOUT 300)
eb_script_test(emulator_control
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/emulator/control_test.py
  LABELS python TIMEOUT 300)
eb_script_test(emulator_sigv4_corpus
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/emulator/sigv4_test.py
  LABELS python TIMEOUT 300)
eb_script_test(emulator_compute_conformance
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/emulator/compute_conformance_test.py
  LABELS python TIMEOUT 300)
eb_script_test(emulator_route53_conformance
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/emulator/route53_conformance_test.py
  LABELS python TIMEOUT 120)
eb_script_test(emulator_s3_conformance
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/emulator/s3_conformance_test.py
  LABELS python TIMEOUT 120)
eb_script_test(emulator_accounts_conformance
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/emulator/accounts_conformance_test.py
  LABELS python TIMEOUT 120)
