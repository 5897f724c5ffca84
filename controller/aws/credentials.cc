#include "controller/aws/credentials.h"

#include "controller/aws/credentials_json.h"

namespace endpointbinder::aws {

std::string describeCredentials(const Credentials& credentials) {
  std::string keyId = credentials.accessKeyId;
  if (keyId.size() > 8) {
    keyId = keyId.substr(0, 4) + "\u2026" + keyId.substr(keyId.size() - 4);
  } else if (!keyId.empty()) {
    keyId = "\u2026";
  }
  std::string text = "provider=" + (credentials.providerName.empty() ? std::string("unknown")
                                                                     : credentials.providerName);
  text += " accessKeyId=" + keyId;
  text += credentials.sessionToken.empty() ? " session=no" : " session=yes";
  text += " expires=" +
          (credentials.expiration ? formatIso8601(*credentials.expiration) : std::string("never"));
  return text;
}

core::Error credentialsNotConfigured(std::string why) {
  return core::Error{
      core::ErrorKind::kNotFound, std::move(why), std::string(kCredentialsNotConfigured), {}, 0};
}

bool isCredentialsNotConfigured(const core::Error& error) {
  return error.kind == core::ErrorKind::kNotFound && error.code == kCredentialsNotConfigured;
}

}  // namespace endpointbinder::aws
