#include "controller/aws/environment.h"

#include <unistd.h>

namespace endpointbinder::aws {

Environment Environment::fromProcess() {
  std::map<std::string, std::string> variables;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    variables.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return Environment(variables);
}

std::optional<std::string> Environment::get(std::string_view name) const {
  const auto it = variables_.find(name);
  if (it == variables_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Environment::getNonEmpty(std::string_view name) const {
  auto value = get(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

Environment Environment::with(std::string name, std::string value) const {
  Environment copy = *this;
  copy.variables_.insert_or_assign(std::move(name), std::move(value));
  return copy;
}

std::string expandHome(std::string_view path, const Environment& env) {
  if (path == "~" || path.starts_with("~/")) {
    if (auto home = env.home()) {
      std::string expanded = *home;
      if (path.size() > 1) {
        if (expanded.ends_with('/')) expanded.pop_back();
        expanded.append(path.substr(1));
      }
      return expanded;
    }
  }
  return std::string(path);
}

}  // namespace endpointbinder::aws
