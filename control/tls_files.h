// Reading the PEM files of the control plane's TLS options (the server's --control-tls-*, esgctl's
// --tls-*): one reader for both programs; each says in its own words which option named the file.
#pragma once

#include <string>

namespace esg::control {

// The whole of `path` into `*out`. False when it cannot be opened, with `*why` set to strerror(errno).
bool ReadPemFile(const std::string& path, std::string* out, std::string* why);

}  // namespace esg::control
