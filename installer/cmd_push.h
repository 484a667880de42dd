// `sealift-install push`: verify the bundle, then push it into a Harbor project from the archive.
#pragma once

#include <CLI/CLI.hpp>

#include "bundle/archive_reader.h"
#include "harbor/api.h"
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

// Where and how `push`, `install` and `upgrade` push.
struct PushTarget {
  registry::HttpOptions http;
  registry::Credentials credentials;
  install::PushOptions options;
};

// The push of `push`, `install` and `upgrade`: a bundle verified with VerifyScope::AllButLayers
// (verify_for_command) into the Harbor project of `relocation`.
install::PushReport push_verified(const bundle::ArchiveReader& reader, const install::VerifiedBundle& verified,
                                  const install::Relocation& relocation, const sign::TrustedKeys& keys,
                                  harbor::HarborApi& harbor, const PushTarget& target, util::Progress& progress);

}  // namespace sealift::installer
