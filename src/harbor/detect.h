// Whether a push target is Harbor, asked of its API before anything is pushed: projects and robot
// accounts exist only there; any other OCI registry (distribution, zot, Nexus, Artifactory, Quay, a
// cloud registry) takes the push through the distribution API alone.
//
// Harbor is what answers like Harbor 2.x to anyone (goharbor/harbor
// src/server/v2.0/handler/systeminfo.go, src/server/v2.0/handler/ping.go; a real 2.15.2's answers
// in shared/reference/harbor-2.15-observed.md):
//   - GET /api/v2.0/systeminfo: 200 with a JSON object carrying a string "auth_mode" and a boolean
//     "self_registration" (and "harbor_version" up to 2.12: 2.13 and later tell it only to a
//     signed-in caller, so it is asked again with the credentials when there are any), and
//   - GET /api/v2.0/ping: 200 "Pong".
// Otherwise:
//   - systeminfo 404 (no such API), and GET /v2/ answers like a registry (200/401) -> not Harbor;
//   - systeminfo 401 or 403: asked again with the user's credentials, when there are any, and
//     judged again;
//   - anything else (401/403 still, 5xx after retries, a 200 that is not Harbor's answer, a
//     systeminfo like Harbor's without the Pong, a redirect, a transport or TLS failure) -> Error:
//     a Harbor must never be taken for a plain registry because its API was briefly unwell. The
//     hint names --registry-type.
#pragma once

#include <optional>
#include <string>

#include "registry/credentials.h"
#include "registry/http.h"
#include "registry/retry.h"

namespace sealift::harbor {

// What --registry-type says: find out, or take the user's word for it.
enum class RegistryType { Auto, Harbor, Oci };

// "auto", "harbor", "oci" -> RegistryType; throws Error(Usage) on anything else.
RegistryType parse_registry_type(const std::string& text);

struct TargetKind {
  bool harbor = false;
  std::string harbor_version;  // as systeminfo says ("v2.15.2-080b0220"); empty when not Harbor or not told
  std::string evidence;        // "GET /api/v2.0/systeminfo answered 404", "--registry-type oci"

  // "Harbor v2.15.2-080b0220" or "an OCI registry that is not Harbor".
  std::string describe() const;
};

// Harbor's release as systeminfo spells it ("v2.14.1-3a72a95e"): major and minor; nullopt for
// anything else.
struct HarborRelease {
  int major = 0;
  int minor = 0;
};
std::optional<HarborRelease> parse_harbor_release(const std::string& version);

// True for a Harbor known to be older than 2.15: it records a cosign v3 signature (a Sigstore
// bundle referrer) as a plain accessory (subject.accessory), not as a signature (goharbor/harbor
// #22628 made it one in 2.15), so a project with cosign content trust blocks pulls of an image
// signed only that way (#22643). sealift writes cosign's `.sig` form with every
// --signature-format, before any referrer: on such a Harbor that is the signature that counts.
bool sigstore_bundles_are_plain_accessories(const TargetKind& kind);

// Asks `host` (as the user wrote it, scheme from http.plain_http) what it is, unless `type` says.
TargetKind detect_target(const std::string& host, const registry::HttpOptions& http,
                         const registry::Credentials& credentials, RegistryType type = RegistryType::Auto,
                         const registry::RetryPolicy& retry = {});

}  // namespace sealift::harbor
