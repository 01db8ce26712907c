/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt domains and guest agents: which connected agent is which
 * domain's, and the virtio-serial channels (target org.memshare.0) hostd
 * connects to, as libvirt does for qemu-guest-agent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"

#if MS_HAVE_LIBVIRT
#define SERIAL_PREFIX "serial:"

size_t hostd_domain_agent(struct hostd *d, const struct ms_domain_info *dom,
			  const uint64_t *ids, size_t n, const bool *used)
{
	for (size_t k = 0; k < n; k++) {
		struct ms_guest_info gi;

		if ((used && used[k]) || ms_host_guest_info(d->host, ids[k], &gi) < 0)
			continue;
		/* The vsock CID is the kernel's word and the channel is the
		 * domain's own socket; a name over unix is the agent's claim. */
		if (dom->vsock_cid && gi.vsock_cid == dom->vsock_cid)
			return k;
		if (dom->channel_path[0] && strncmp(gi.peer, SERIAL_PREFIX, strlen(SERIAL_PREFIX)) == 0 &&
		    strcmp(gi.peer + strlen(SERIAL_PREFIX), dom->channel_path) == 0)
			return k;
		if (!gi.vsock_cid && strncmp(gi.peer, SERIAL_PREFIX, strlen(SERIAL_PREFIX)) &&
		    strcmp(gi.hello.guest_name, dom->name) == 0)
			return k;
	}
	return n;
}

static bool wanted(const char *endpoint, const struct ms_domain_info *doms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (doms[i].active && doms[i].channel_path[0] &&
		    strcmp(endpoint + strlen(SERIAL_PREFIX), doms[i].channel_path) == 0)
			return true;
	return false;
}

void hostd_sync_channels(struct hostd *d, const struct ms_domain_info *doms, size_t n)
{
	if (!d->conf.connect_channels)
		return;
	/* Channels of domains that stopped or went away. */
	for (size_t i = 0; i < d->nr_channels;) {
		if (wanted(d->channels[i], doms, n)) {
			i++;
			continue;
		}
		ms_host_unconnect(d->host, d->channels[i]);
		free(d->channels[i]);
		d->channels[i] = d->channels[--d->nr_channels];
	}
	/* Channels of running domains hostd does not keep yet. */
	for (size_t i = 0; i < n; i++) {
		char ep[sizeof(SERIAL_PREFIX) + sizeof(doms[i].channel_path)];
		char **grown;
		int r;

		if (!doms[i].active || !doms[i].channel_path[0])
			continue;
		strcpy(ep, SERIAL_PREFIX);
		strcat(ep, doms[i].channel_path);
		r = ms_host_connect(d->host, ep);
		if (r == -EEXIST)
			continue;   /* kept already (by us or by --connect) */
		if (r < 0) {
			ms_ctx_log(d->ctx, MS_LOG_WARNING, "domain %s: channel %s: %s", doms[i].name,
				doms[i].channel_path, strerror(-r));
			continue;
		}
		grown = realloc(d->channels, (d->nr_channels + 1) * sizeof(*grown));
		if (grown)
			d->channels = grown;
		if (!grown || !(d->channels[d->nr_channels] = strdup(ep))) {
			ms_host_unconnect(d->host, ep);
			continue;
		}
		d->nr_channels++;
		ms_ctx_log(d->ctx, MS_LOG_INFO, "domain %s: connecting to its channel %s", doms[i].name,
			doms[i].channel_path);
	}
}

void hostd_channels_free(struct hostd *d)
{
	for (size_t i = 0; i < d->nr_channels; i++)
		free(d->channels[i]);
	free(d->channels);
	d->channels = NULL;
	d->nr_channels = 0;
}
#endif
