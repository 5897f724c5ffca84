// Environment: the environment variables the AWS layer reads (AWS_REGION, AWS_PROFILE,
// HTTPS_PROXY, ...), as an injectable value so tests never touch the process environment.
// fromProcess() takes a snapshot once; reading the live environment later would race with any
// setenv() elsewhere in the process and make behaviour depend on timing.
// Thread-safety: immutable after construction; safe to share between threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace endpointbinder::aws {

class Environment {
 public:
  Environment() = default;
  explicit Environment(const std::map<std::string, std::string>& variables)
      : variables_(variables.begin(), variables.end()) {}

  // A snapshot of the process environment (environ) taken now.
  static Environment fromProcess();

  // The variable's value when it is set (possibly to ""), nullopt otherwise. Names are
  // case-sensitive, as on POSIX.
  std::optional<std::string> get(std::string_view name) const;

  // The value when set and not empty (the SDKs treat AWS_REGION="" as unset); nullopt otherwise.
  std::optional<std::string> getNonEmpty(std::string_view name) const;

  // The user's home directory: HOME, else nullopt. "~/" in file options expands to it.
  std::optional<std::string> home() const { return getNonEmpty("HOME"); }

  // A copy with `name` set to `value` (tests and option overrides).
  Environment with(std::string name, std::string value) const;

 private:
  std::map<std::string, std::string, std::less<>> variables_;
};

// Expands a leading "~/" (or a lone "~") to the home directory; other paths are returned as is.
// Without a home directory the path is returned unchanged.
std::string expandHome(std::string_view path, const Environment& env);

}  // namespace endpointbinder::aws
