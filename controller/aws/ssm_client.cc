#include "controller/aws/ssm_client.h"

#include <cpprest/json.h>
#include <fmt/format.h>

namespace endpointbinder::aws {
namespace {

std::unexpected<core::Error> malformedGetParameter(std::string what) {
  return core::makeError(core::ErrorKind::kRetryable, "GetParameter response: " + what,
                         "MalformedResponse");
}

}  // namespace

JsonServiceOptions ssmServiceOptions(std::string region, std::string endpoint, RetryOptions retry) {
  JsonServiceOptions options;
  options.service = std::string(kSsmSigningName);
  options.targetPrefix = std::string(kSsmTargetPrefix);
  options.jsonVersion = "1.1";
  options.endpoint =
      endpoint.empty() ? fmt::format("https://ssm.{}.amazonaws.com", region) : std::move(endpoint);
  options.region = std::move(region);
  options.retry = retry;
  return options;
}

std::string getParameterInput(std::string_view name) {
  web::json::value input = web::json::value::object();
  input["Name"] = web::json::value::string(std::string(name));
  input["WithDecryption"] = web::json::value::boolean(true);
  return input.serialize();
}

core::Result<SsmParameter> parseGetParameter(std::string_view json) {
  web::json::value doc;
  try {
    std::error_code error;
    doc = web::json::value::parse(std::string(json), error);
    if (error) return malformedGetParameter("not JSON");
  } catch (const std::exception&) {
    return malformedGetParameter("not JSON");
  }
  if (!doc.is_object() || !doc.has_object_field("Parameter")) {
    return malformedGetParameter("no Parameter object");
  }
  const auto& parameter = doc.at("Parameter");
  SsmParameter out;
  for (const char* field : {"Name", "Type", "Value"}) {
    if (!parameter.has_string_field(field)) {
      return malformedGetParameter(fmt::format("Parameter has no {} string", field));
    }
  }
  out.name = parameter.at("Name").as_string();
  out.type = parameter.at("Type").as_string();
  out.value = parameter.at("Value").as_string();
  if (parameter.has_number_field("Version")) {
    out.version = parameter.at("Version").as_number().to_int64();
  }
  if (parameter.has_string_field("ARN")) out.arn = parameter.at("ARN").as_string();
  return out;
}

SsmClient::SsmClient(JsonServiceOptions service, HttpTransport& transport,
                     CredentialsProvider& credentials, const core::Clock& clock,
                     QueryClientHooks hooks)
    : json_(std::move(service), transport, credentials, clock, std::move(hooks)) {}

core::Result<SsmParameter> SsmClient::getParameter(const std::string& name) {
  auto response = json_.call("GetParameter", getParameterInput(name));
  if (!response) return std::unexpected(std::move(response.error()));
  auto parsed = parseGetParameter(response->body);
  if (!parsed) {
    parsed.error().requestId = response->requestId;
    parsed.error().httpStatus = response->httpStatus;
  }
  return parsed;
}

}  // namespace endpointbinder::aws
