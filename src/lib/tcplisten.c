/*
 * tcplisten.c - a listening TCP socket for an address (see tcplisten.h).
 */
#include "config.h"

#include <sys/socket.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/tcplisten.h"
#include "lib/xmalloc.h"

/* Split "ADDR:PORT" or "[ADDR]:PORT"; 0 or -1 with *cause. */
static int
tcplisten_split(const char *addr, const char *what, char **host, char **port, char **cause)
{
	const char *colon, *p;
	char *end;
	unsigned long n;

	if (addr[0] == '[') {
		if ((colon = strchr(addr, ']')) == NULL || colon[1] != ':')
			goto bad;
		*host = xstrndup(addr + 1, (size_t)(colon - addr - 1));
		colon++;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			goto bad;
		*host = xstrndup(addr, (size_t)(colon - addr));
	}
	p = colon + 1;
	errno = 0;
	n = strtoul(p, &end, 10);
	if (**host == '\0' || *p < '0' || *p > '9' || *end != '\0' || errno != 0 ||
	    n > 65535) {
		free(*host);
		goto bad;
	}
	*port = xstrdup(p);
	return 0;
bad:
	*cause = xasprintf("%s listen '%s': not ADDR:PORT or [ADDR]:PORT", what, addr);
	return -1;
}

/* A listening socket on ai; its fd, or -1 with *cause. */
static int
tcplisten_bind(const struct addrinfo *ai, const char *addr, const char *what, int backlog,
    char **cause)
{
	int fd, on = 1;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, backlog) != 0) {
		*cause = xasprintf("%s listen %s: %s", what, addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int
tcplisten_open(const char *addr, const char *what, int backlog, int *port, char **cause)
{
	struct addrinfo hints, *res;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char *host, *serv;
	int fd, rc;

	if (tcplisten_split(addr, what, &host, &serv, cause) != 0)
		return -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, serv, &hints, &res);
	free(host);
	free(serv);
	if (rc != 0) {
		*cause = xasprintf("%s listen %s: %s", what, addr, gai_strerror(rc));
		return -1;
	}
	fd = tcplisten_bind(res, addr, what, backlog, cause);
	freeaddrinfo(res);
	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		*port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}
