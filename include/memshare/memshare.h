/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmemshare: memory balancing between a VM host and its guests. */
#ifndef MEMSHARE_MEMSHARE_H
#define MEMSHARE_MEMSHARE_H

#include <memshare/common.h>
#include <memshare/ctx.h>
#include <memshare/probe.h>
#include <memshare/lru.h>
#include <memshare/reclaim.h>
#include <memshare/message.h>
#include <memshare/host.h>
#include <memshare/guest.h>
#include <memshare/policy.h>
#include <memshare/trace.h>
#include <memshare/sim.h>

#endif
