// The AWS shared config and credentials files (~/.aws/config, ~/.aws/credentials), parsed the
// way botocore does (Python configparser + botocore.configloader):
//  - "[section]" headers; "key = value" or "key: value" (first '=' or ':' splits); keys are
//    lowercased, keys and values trimmed; lines starting with '#' or ';' are comments (a '#'
//    later in a line is part of the value, as in botocore);
//  - a line indented deeper than its key continues that key's value (joined with "\n"; used by
//    nested settings such as "s3 =\n  max_concurrent_requests = 10");
//  - a key outside any section, a line without a delimiter, an empty key, a repeated section
//    or a repeated key in one section is a parse error (configparser's strict mode);
//  - config file profiles are "[default]" and "[profile NAME]"; other sections are not
//    profiles. Credentials file sections are profile names as written ("[NAME]").
// Paths: AWS_CONFIG_FILE (default ~/.aws/config), AWS_SHARED_CREDENTIALS_FILE (default
// ~/.aws/credentials); "~" expands to HOME. A missing file is not an error (it holds nothing).
// Errors never quote file contents (they may hold secrets): only the path and line number.
// Thread-safety: pure functions and plain values.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "controller/aws/environment.h"
#include "controller/core/error.h"

namespace endpointbinder::aws {

using IniSection = std::map<std::string, std::string>;  // lowercased key -> value

struct IniFile {
  std::map<std::string, IniSection> sections;  // section name as written -> keys
};

// Parses INI text. `origin` names the file in error messages. On failure a kTerminal Error
// with code "InvalidConfigFile" naming origin and line.
core::Result<IniFile> parseIni(std::string_view text, std::string_view origin);

struct SharedConfigFiles {
  std::string configPath;       // resolved path of the config file
  std::string credentialsPath;  // resolved path of the credentials file
  bool configFound = false;
  bool credentialsFound = false;
  std::map<std::string, IniSection> configProfiles;       // "default", "NAME" of [profile NAME]
  std::map<std::string, IniSection> credentialsProfiles;  // section names
};

// Reads both files (each may be missing). On a parse or read error (other than absence) a
// kTerminal Error with code "InvalidConfigFile".
core::Result<SharedConfigFiles> loadSharedConfigFiles(const Environment& env);

// AWS_PROFILE when set and not empty, else "default".
std::string selectedProfileName(const Environment& env);

// True when AWS_PROFILE names the profile explicitly (a missing explicit profile is an error;
// a missing "default" profile just means there is none).
bool profileExplicitlySelected(const Environment& env);

// Reads a whole regular file of at most `maxBytes`. A missing file gives nullopt; any other
// failure (permissions, a directory, too large) a kTerminal Error with code `errorCode` naming
// the path and the reason, never the contents.
core::Result<std::optional<std::string>> readSmallFile(const std::string& path,
                                                       std::size_t maxBytes,
                                                       std::string_view errorCode);

// A value from the named profile of the config file, if present.
std::optional<std::string> configProfileValue(const SharedConfigFiles& files,
                                              std::string_view profile, std::string_view key);

}  // namespace endpointbinder::aws
