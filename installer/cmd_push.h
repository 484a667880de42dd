// `sealift-install push`: verify the bundle, then push it into a Harbor project, or under a path
// prefix of any other OCI registry, from the archive.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bundle/archive_reader.h"
#include "cmd_verify.h"
#include "harbor/api.h"
#include "harbor/detect.h"
#include "install/push.h"
#include "install/relocation.h"
#include "install/verify.h"
#include "registry/credentials.h"
#include "registry/http.h"
#include "sign/signature.h"
#include "util/progress.h"

namespace sealift::installer {

void add_push_command(CLI::App& app);

// --signature-format both|legacy, for push, install and upgrade.
void add_signature_format_flag(CLI::App* cmd, std::string& format);

// One line on stderr (unless `quiet` or --signature-format legacy) when the target is a Harbor older
// than 2.15, which does not count the Sigstore bundle referrers as signatures
// (harbor::sigstore_bundles_are_plain_accessories): the `.sig` form, pushed with every format, is
// what its cosign content trust sees.
void note_signature_forms(const harbor::TargetKind& kind, const std::string& signature_format, bool quiet);

// --resign-key and --resign-password-file, for push, install and upgrade.
struct ResignFlags {
  std::string key;
  std::string password_file;
};
void add_resign_flags(CLI::App* cmd, ResignFlags& flags);
// The site's key, decrypted now, so that a wrong password or a bad key file fails before anything
// is pushed; nullopt without --resign-key. The password comes from --resign-password-file, else
// COSIGN_PASSWORD, else a prompt, as for `sealift-bundle build --key`. With
// --insecure-skip-signature it is an Error(Usage), before any password is asked: the site's
// signature would vouch for content nobody verified.
std::optional<sign::PrivateKey> load_resign_key(const ResignFlags& flags, const TrustFlags& trust);

// Where and how `push`, `install` and `upgrade` push.
struct PushTarget {
  registry::HttpOptions http;
  registry::Credentials credentials;
  install::PushOptions options;
};

// The push of `push`, `install` and `upgrade`: a bundle verified with VerifyScope::AllButLayers
// (verify_for_command) into the Harbor project of `relocation` (`harbor` set), or under its path
// prefix on any other registry (`harbor` null).
install::PushReport push_verified(const bundle::ArchiveReader& reader, const install::VerifiedBundle& verified,
                                  const install::Relocation& relocation, const sign::TrustedKeys& keys,
                                  harbor::HarborApi* harbor, const PushTarget& target, util::Progress& progress);

// What the target registry is, with Harbor's API when it is Harbor.
struct TargetRegistry {
  harbor::TargetKind kind;
  std::unique_ptr<harbor::HarborApi> harbor;  // null unless kind.harbor (and the API was asked for)
};

// --registry-type auto|harbor|oci, on every command that talks to the target registry.
void add_registry_type_flag(CLI::App* cmd, std::string& type);

// Asks `registry` whether it is Harbor (harbor/detect.h), unless --registry-type says. Elsewhere
// than on Harbor, `harbor_only` (the Harbor-only flags the user gave, e.g. "--create-project") is
// an Error(Usage) naming the registry found, and one line on stderr says that Harbor's project
// check is skipped and what --project means there (unless `quiet`). Without `harbor_api` (a
// command that will call none of Harbor's API, e.g. `install --skip-push`), no HarborApi is made,
// so none of Harbor's credentials are needed.
TargetRegistry find_target_registry(const std::string& registry, const std::string& project,
                                    const registry::HttpOptions& http, const registry::Credentials& credentials,
                                    const std::string& type, const std::vector<std::string>& harbor_only, bool quiet,
                                    bool harbor_api = true);

}  // namespace sealift::installer
