# End-to-end scenarios: the real binary against the emulator and DNS servers on loopback.
foreach(scenario examples scenario_accounts scenario_dns scenario_dns_recovery scenario_dns_edges scenario_aws scenario_policy scenario_safety scenario_manifest_safety scenario_s3_manifests scenario_shutdown_secrets scenario_notify scenario_instances scenario_records scenario_leader_election dnsmasq doctor)
  eb_script_test(integration_${scenario}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/${scenario}_test.py
    LABELS integration TIMEOUT 600)
endforeach()
