// SSM Parameter Store, the one call the controller needs: GetParameter with decryption, to read
// a SecureString that holds a secret (a Slack webhook URL). AWS JSON 1.1 protocol
// (`X-Amz-Target: AmazonSSM.GetParameter`), SigV4 service "ssm", through JsonClient.
//
// The value is a secret: it is returned to the caller and appears in nothing else — not in
// errors (parse failures name the field, never its content), not in logs, not in the request
// log of the call observer.
// Thread-safety: SsmClient may be used concurrently; parseGetParameter is pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "controller/aws/json_client.h"

namespace endpointbinder::aws {

inline constexpr std::string_view kSsmSigningName = "ssm";
inline constexpr std::string_view kSsmTargetPrefix = "AmazonSSM";

struct SsmParameter {
  std::string name;
  std::string type;   // "String", "StringList" or "SecureString"
  std::string value;  // decrypted when asked: a secret
  std::int64_t version = 0;
  std::string arn;
};

// The source of SecureString values. Tests substitute a fake.
class ParameterStore {
 public:
  virtual ~ParameterStore() = default;
  // Reads parameter `name` (a name such as "/endpoint-binder/slack", not an ARN) decrypted.
  // Fails kNotFound "ParameterNotFound" when it does not exist, kAuth for AccessDenied (no
  // ssm:GetParameter, or no kms:Decrypt on its key: "…KMS…AccessDeniedException"), kRetryable
  // for throttling and transport failures.
  virtual core::Result<SsmParameter> getParameter(const std::string& name) = 0;
};

// Options for SSM in `region`; an empty `endpoint` means https://ssm.<region>.amazonaws.com.
JsonServiceOptions ssmServiceOptions(std::string region, std::string endpoint = {},
                                     RetryOptions retry = {});

// The GetParameter input: {"Name": name, "WithDecryption": true}.
std::string getParameterInput(std::string_view name);

// Parses a GetParameter answer: {"Parameter": {"Name", "Type", "Value", "Version", "ARN", ...}}.
// kRetryable "MalformedResponse" when it is not such JSON or lacks Name, Type or Value; the
// message never contains the value.
core::Result<SsmParameter> parseGetParameter(std::string_view json);

class SsmClient final : public ParameterStore {
 public:
  SsmClient(JsonServiceOptions service, HttpTransport& transport, CredentialsProvider& credentials,
            const core::Clock& clock, QueryClientHooks hooks = {});

  core::Result<SsmParameter> getParameter(const std::string& name) override;

 private:
  JsonClient json_;
};

}  // namespace endpointbinder::aws
