# Sourced by the set-up scripts: apt helpers shared by them. The caller
# defines log().

# Adds the bookworm-backports suite to apt (once) and refreshes the lists.
add_backports() {
  if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  log "adding the bookworm-backports suite to apt"
  cat >/etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq >&2
}

# Installs the Debian packages among "$@" that are not installed yet, with
# their services kept from starting (a policy-rc.d that says no, for the
# install only): the tests start their own instances on free ports.
install_servers() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  local policy=/usr/sbin/policy-rc.d added="" status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || status=$?
  [ -n "$added" ] && rm -f "$policy"
  return $status
}
