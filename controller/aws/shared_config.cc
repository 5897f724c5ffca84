#include "controller/aws/shared_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "controller/core/text.h"

namespace endpointbinder::aws {
namespace {

constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;

// Blanks around keys and values; a newline never reaches here (lines are split first).
constexpr std::string_view kBlanks = " \t\r\f\v";
bool isBlank(char c) { return kBlanks.find(c) != std::string_view::npos; }

std::unexpected<core::Error> parseError(std::string_view origin, int line, std::string_view what) {
  return core::makeError(
      core::ErrorKind::kTerminal,
      std::string(origin) + " line " + std::to_string(line) + ": " + std::string(what),
      "InvalidConfigFile");
}

// "profile NAME" -> NAME (quotes around NAME removed); nullopt for other sections.
std::optional<std::string> profileSectionName(std::string_view section) {
  if (!section.starts_with("profile")) return std::nullopt;
  std::string_view rest = section.substr(7);
  if (rest.empty() || !isBlank(rest.front())) return std::nullopt;
  rest = core::trimmed(rest, kBlanks);
  if (rest.size() >= 2 && (rest.front() == '"' || rest.front() == '\'') &&
      rest.back() == rest.front()) {
    rest = rest.substr(1, rest.size() - 2);
  }
  if (rest.empty()) return std::nullopt;
  for (char c : rest) {
    if (isBlank(c)) return std::nullopt;  // botocore's shlex split would see 3+ parts
  }
  return std::string(rest);
}

}  // namespace

core::Result<std::optional<std::string>> readSmallFile(const std::string& path,
                                                       std::size_t maxBytes,
                                                       std::string_view errorCode) {
  auto failure = [&](std::string why) {
    return std::unexpected(core::Error{core::ErrorKind::kTerminal,
                                       path + " cannot be read: " + why,
                                       std::string(errorCode),
                                       {},
                                       0});
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    return failure(std::error_code(errno, std::generic_category()).message());
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return failure("not a regular file");
  }
  if (static_cast<std::size_t>(info.st_size) > maxBytes) {
    ::close(fd);
    return failure("larger than " + std::to_string(maxBytes) + " bytes");
  }
  std::string contents;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      return failure(std::error_code(saved, std::generic_category()).message());
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<std::size_t>(n));
    if (contents.size() > maxBytes) {
      ::close(fd);
      return failure("larger than " + std::to_string(maxBytes) + " bytes");
    }
  }
  ::close(fd);
  return contents;
}

core::Result<IniFile> parseIni(std::string_view text, std::string_view origin) {
  IniFile file;
  IniSection* section = nullptr;
  std::string* lastValue = nullptr;  // the value a deeper-indented line continues
  std::size_t lastIndent = 0;
  int lineNumber = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineNumber;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);

    const std::string_view stripped = core::trimmed(raw, kBlanks);
    if (stripped.empty()) {
      if (end == text.size()) break;
      continue;
    }
    if (stripped.front() == '#' || stripped.front() == ';') {
      if (end == text.size()) break;
      continue;
    }
    std::size_t indent = 0;
    while (indent < raw.size() && isBlank(raw[indent])) ++indent;

    if (lastValue != nullptr && indent > lastIndent) {
      lastValue->append("\n");
      lastValue->append(stripped);
    } else if (stripped.front() == '[') {
      const auto close = stripped.rfind(']');
      if (close == std::string_view::npos || close == 1) {
        return parseError(origin, lineNumber, "malformed section header");
      }
      const std::string name(stripped.substr(1, close - 1));
      if (file.sections.contains(name)) {
        return parseError(origin, lineNumber, "section [" + name + "] appears twice");
      }
      section = &file.sections[name];
      lastValue = nullptr;
    } else {
      if (section == nullptr) {
        return parseError(origin, lineNumber, "setting outside any [section]");
      }
      const auto delimiter = stripped.find_first_of("=:");
      if (delimiter == std::string_view::npos) {
        return parseError(origin, lineNumber, "expected \"key = value\"");
      }
      const std::string key =
          core::asciiLower(core::trimmed(stripped.substr(0, delimiter), kBlanks));
      if (key.empty()) return parseError(origin, lineNumber, "empty key");
      if (section->contains(key)) {
        return parseError(origin, lineNumber, "key \"" + key + "\" appears twice in a section");
      }
      lastValue = &(*section)[key];
      *lastValue = std::string(core::trimmed(stripped.substr(delimiter + 1), kBlanks));
      lastIndent = indent;
    }
    if (end == text.size()) break;
  }
  return file;
}

core::Result<SharedConfigFiles> loadSharedConfigFiles(const Environment& env) {
  SharedConfigFiles files;
  files.configPath = expandHome(env.getNonEmpty("AWS_CONFIG_FILE").value_or("~/.aws/config"), env);
  files.credentialsPath = expandHome(
      env.getNonEmpty("AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), env);

  auto config = readSmallFile(files.configPath, kMaxFileBytes, "InvalidConfigFile");
  if (!config) return std::unexpected(config.error());
  if (config->has_value()) {
    auto ini = parseIni(**config, files.configPath);
    if (!ini) return std::unexpected(ini.error());
    files.configFound = true;
    for (auto& [name, values] : ini->sections) {
      if (name == "default") {
        files.configProfiles.try_emplace("default", values);
      } else if (auto profile = profileSectionName(name)) {
        // "[profile default]" wins over "[default]", as for every other profile name.
        files.configProfiles.insert_or_assign(*profile, values);
      }
    }
  }
  auto credentials = readSmallFile(files.credentialsPath, kMaxFileBytes, "InvalidConfigFile");
  if (!credentials) return std::unexpected(credentials.error());
  if (credentials->has_value()) {
    auto ini = parseIni(**credentials, files.credentialsPath);
    if (!ini) return std::unexpected(ini.error());
    files.credentialsFound = true;
    files.credentialsProfiles = std::move(ini->sections);
  }
  return files;
}

std::string selectedProfileName(const Environment& env) {
  return env.getNonEmpty("AWS_PROFILE").value_or("default");
}

bool profileExplicitlySelected(const Environment& env) {
  return env.getNonEmpty("AWS_PROFILE").has_value();
}

std::optional<std::string> configProfileValue(const SharedConfigFiles& files,
                                              std::string_view profile, std::string_view key) {
  const auto it = files.configProfiles.find(std::string(profile));
  if (it == files.configProfiles.end()) return std::nullopt;
  const auto value = it->second.find(std::string(key));
  if (value == it->second.end()) return std::nullopt;
  return value->second;
}

}  // namespace endpointbinder::aws
