#include "controller/aws/credentials_shared_files.h"

#include "controller/aws/shared_config.h"

namespace endpointbinder::aws {
namespace {

std::optional<std::string> valueOf(const IniSection& section, const char* key) {
  const auto it = section.find(key);
  if (it == section.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

core::Result<Credentials> keysFrom(const IniSection& section, const std::string& where) {
  Credentials credentials;
  credentials.providerName = "shared-files";
  credentials.accessKeyId = *valueOf(section, "aws_access_key_id");
  auto secret = valueOf(section, "aws_secret_access_key");
  if (!secret) {
    return core::makeError(
        core::ErrorKind::kAuth,
        "shared-files: " + where + " has aws_access_key_id but no aws_secret_access_key",
        "PartialCredentials");
  }
  credentials.secretAccessKey = std::move(*secret);
  if (auto token = valueOf(section, "aws_security_token")) {
    credentials.sessionToken = std::move(*token);
  } else if (auto session = valueOf(section, "aws_session_token")) {
    credentials.sessionToken = std::move(*session);
  }
  return credentials;
}

std::unexpected<core::Error> unsupported(const std::string& where, const std::string& what) {
  return core::makeError(core::ErrorKind::kAuth,
                         "shared-files: " + where + " uses " + what +
                             ", which endpoint-binder does not support; use environment "
                             "variables, web identity, or the task/instance role instead",
                         "UnsupportedProfile");
}

}  // namespace

core::Result<Credentials> SharedFilesCredentialsProvider::credentials() {
  auto files = loadSharedConfigFiles(env_);
  if (!files) return std::unexpected(files.error());
  const std::string profile = selectedProfileName(env_);

  const auto configIt = files->configProfiles.find(profile);
  const auto credentialsIt = files->credentialsProfiles.find(profile);
  const std::string configWhere = "profile \"" + profile + "\" in " + files->configPath;
  const std::string credentialsWhere = "profile \"" + profile + "\" in " + files->credentialsPath;

  if (configIt != files->configProfiles.end()) {
    const IniSection& config = configIt->second;
    if (valueOf(config, "role_arn")) {
      if (valueOf(config, "web_identity_token_file")) {
        return std::unexpected(
            credentialsNotConfigured("shared-files: " + configWhere +
                                     " assumes a role with web identity (handled by "
                                     "web-identity)"));
      }
      return unsupported(configWhere, "role_arn (AssumeRole)");
    }
    for (const char* key : {"sso_start_url", "sso_session", "sso_account_id"}) {
      if (valueOf(config, key)) return unsupported(configWhere, "IAM Identity Center (SSO)");
    }
  }
  if (credentialsIt != files->credentialsProfiles.end() &&
      valueOf(credentialsIt->second, "aws_access_key_id")) {
    return keysFrom(credentialsIt->second, credentialsWhere);
  }
  if (configIt != files->configProfiles.end()) {
    if (valueOf(configIt->second, "credential_process")) {
      return unsupported(configWhere, "credential_process");
    }
    if (valueOf(configIt->second, "aws_access_key_id")) {
      return keysFrom(configIt->second, configWhere);
    }
  }
  if (profileExplicitlySelected(env_) && configIt == files->configProfiles.end() &&
      credentialsIt == files->credentialsProfiles.end()) {
    return core::makeError(core::ErrorKind::kAuth,
                           "shared-files: AWS_PROFILE names profile \"" + profile +
                               "\", which is in neither " + files->credentialsPath + " nor " +
                               files->configPath,
                           "ProfileNotFound");
  }
  return std::unexpected(credentialsNotConfigured(
      "shared-files: no keys for profile \"" + profile + "\" in " + files->credentialsPath +
      (files->credentialsFound ? "" : " (absent)") + " or " + files->configPath +
      (files->configFound ? "" : " (absent)")));
}

}  // namespace endpointbinder::aws
