/*
 * bench/bench_map.c - the mapping stage: FITS headers + blueprint -> CAOM-2.4
 * text, repeated in one process, and whole `caom2ingest map` processes.
 *
 * usage: bench_map [-n N] [-m N] [-p N] [-x CAOM2INGEST] [-r REFERENCE_DIR]
 *   -n  iterations of the single-HDU case (20000)
 *   -m  iterations of the MegaCam case (200)
 *   -p  `caom2ingest map` processes to run (20; 0 skips them)
 *   -x  the caom2ingest binary (src/caom2ingest, from the build directory)
 *
 * Two cases of the reference tree (REFERENCE_DIR/caom/cases): the single-HDU
 * APASS catalog (blueprint) and the MegaCam exposure 2087482o, a primary HDU
 * and 40 image extensions (legacy .config/.default/.override). For each, the
 * header dump is read once into memory and the mapping is loaded once; then
 * every iteration
 *
 *   1. parses the headers again from the in-memory dump (fits_read_dump):
 *      map_augment modifies the headers it is given, so each iteration needs
 *      a fresh copy, and the parse is the honest price of one (it is also
 *      what the daemon pays per file, minus the read from disk);
 *   2. creates a new observation and maps the file into it (map_augment);
 *   3. computes every checksum (checksum_compute);
 *   4. writes the CAOM-2.4 text (caom_xml_write) and frees everything (the
 *      observation and the headers: counted in this last step).
 *
 * Per-iteration mean and median and the share of each step are printed;
 * the mapping load (blueprint_load, or legacy_load + legacy_blueprint),
 * which the daemon repeats per file, is timed separately. The APASS
 * case runs as P whole `caom2ingest map` processes (fork/exec, output to
 * stdout redirected to /dev/null; first, while this process is small):
 * median wall time and the peak RSS of one process. Each figure is printed
 * with its target from issue 3 and the Python reference tools' published
 * figures.
 *
 * The reference tree: -r, else $CAOM2INGEST_REFERENCE, else the configured
 * one (--with-reference, default SRCDIR/../shared/reference).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caom/blueprint.h"
#include "caom/blueprint_load.h"
#include "caom/caom.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"
#include "caom/fits.h"
#include "caom/legacy.h"
#include "caom/map.h"

#ifndef BENCH_REFERENCE_DIR
#define BENCH_REFERENCE_DIR ""
#endif

/* Issue 3's targets and the Python reference's published figures. */
#define TARGET_RSS_MB		20.0
#define TARGET_PROCESS_MS	10.0
#define PYTHON_PROCESS_MS_LO	1100.0
#define PYTHON_PROCESS_MS_HI	2000.0

struct bcase {
	const char	*name;
	const char	*dir;		/* under caom/cases */
	const char	*blueprint;	/* or NULL: the legacy triple */
	const char	*config, *defaults, *overrides;
	const char	*header;
	const char	*product;
	const char	*uri;
	const char	*collection;
	const char	*id;
	double		 target_us;
	double		 python_us_lo, python_us_hi;
	const char	*python_text;
};

static const struct bcase cases[] = {
	{ "APASS single-HDU", "apass-catalog", "dao_c122_2016_012725.blueprint", NULL, NULL,
	  NULL, "dao_c122_2016_012725.fits.header", "catalog",
	  "vos://cadc.nrc.ca!vospace/CAOMworkshop/Examples/DAO/dao_c122_2016_012725.fits",
	  "APASS", "s140602.0683", 100.0, 20000.0, 50000.0, "20-50 ms/header" },
	{ "MegaCam 2087482o", "cfht-2087482o", NULL, "2087482o.config",
	  "caom2megacam.default", "2087482o.override", "2087482o.fits.header", "2087482o",
	  "cadc:CFHT/2087482o.fits.fz", "CFHT", "2087482", 5000.0, 700000.0, 700000.0,
	  "0.7 s/file" },
};

enum { ST_PARSE, ST_MAP, ST_CHECKSUM, ST_XML, NSTEPS };
static const char *const step_names[NSTEPS] = { "parse headers", "map_augment",
	"checksums", "text + free all" };

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
mean(const double *v, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += v[i];
	return s / (double)n;
}

static char *
path_join(const char *ref, const char *dir, const char *file)
{
	size_t len = strlen(ref) + strlen(dir) + strlen(file) + 16;
	char *p = malloc(len);

	if (p == NULL)
		abort();
	snprintf(p, len, "%s/caom/cases/%s/%s", ref, dir, file);
	return p;
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL || fstat(fileno(fp), &st) != 0) {
		fprintf(stderr, "bench_map: %s: %s\n", path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		abort();
	*len = fread(buf, 1, (size_t)st.st_size, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

/* The case's blueprint, as the map command builds it; NULL on error (printed). */
static struct blueprint *
load_mapping(const char *ref, const struct bcase *c)
{
	char *p1, *p2, *p3, *cause = NULL, *warn = NULL;
	struct blueprint *bp = NULL;
	struct legacy *lg = NULL;

	if (c->blueprint != NULL) {
		p1 = path_join(ref, c->dir, c->blueprint);
		bp = blueprint_new();
		if (blueprint_load(bp, p1, &cause) != 0) {
			blueprint_free(bp);
			bp = NULL;
		}
		free(p1);
	} else {
		p1 = path_join(ref, c->dir, c->config);
		p2 = path_join(ref, c->dir, c->defaults);
		p3 = path_join(ref, c->dir, c->overrides);
		if (legacy_load(p1, p2, p3, &lg, &cause) == 0)
			legacy_blueprint(lg, c->uri, &bp, &warn, &cause);
		legacy_free(lg);
		free(warn);
		free(p1);
		free(p2);
		free(p3);
	}
	if (bp == NULL) {
		fprintf(stderr, "bench_map: %s: %s\n", c->name, cause ? cause : "no blueprint");
		free(cause);
	}
	return bp;
}

/* One iteration; step times added to t[]. Returns the text's length, 0 on error. */
static size_t
map_once(const struct bcase *c, const struct blueprint *bp, const char *hpath,
    const char *buf, size_t len, double t[NSTEPS], size_t *nwarn)
{
	struct caom_observation *obs;
	struct fits_file *f = NULL;
	struct map_input in;
	char *cause = NULL, *warn = NULL, *text;
	const char *w;
	size_t outlen = 0;
	double t0, t1;

	t0 = now();
	if (fits_read_dump(hpath, buf, len, &f, &cause) != 0) {
		fprintf(stderr, "bench_map: %s\n", cause);
		free(cause);
		return 0;
	}
	t1 = now();
	t[ST_PARSE] += t1 - t0;
	obs = caom_observation_new(map_observation_kind(bp), c->collection, c->id);
	memset(&in, 0, sizeof in);
	in.product_id = c->product;
	in.uri = c->uri;
	in.fits = f;
	in.path = hpath;
	in.bp = bp;
	if (map_augment(obs, &in, &warn, &cause) != 0) {
		fprintf(stderr, "bench_map: %s: %s\n", c->name, cause);
		free(cause);
		free(warn);
		caom_observation_free(obs);
		fits_file_free(f);
		return 0;
	}
	for (w = warn; w != NULL && *w != '\0'; w++)
		*nwarn += w == warn || *w == '\n';
	free(warn);
	t0 = now();
	t[ST_MAP] += t0 - t1;
	checksum_compute(obs);
	t1 = now();
	t[ST_CHECKSUM] += t1 - t0;
	text = caom_xml_write(obs, &outlen);
	free(text);
	caom_observation_free(obs);
	fits_file_free(f);
	t[ST_XML] += now() - t1;
	return outlen;
}

static void
verdict(const char *what, double value, const char *unit, double target)
{
	printf("  %-34s %10.3f %-3s target <= %-7g %s\n", what, value, unit, target,
	    value <= target ? "MET" : "NOT MET");
}

/* The in-process loop for one case; *median_us receives the median. 0 or -1. */
static int
bench_case(const char *ref, const struct bcase *c, size_t n)
{
	char *hpath = path_join(ref, c->dir, c->header), *buf;
	double *it, t[NSTEPS] = { 0 }, t0, tl, tot, med, mn;
	struct fits_file *f = NULL;
	struct blueprint *bp;
	size_t len, outlen = 0, nwarn = 0, nhdus;
	char *cause = NULL;
	size_t i, nload;
	int s;

	/* The headers once from disk (as the daemon reads them), kept as text. */
	if (fits_read(hpath, &f, &cause) != 0) {
		fprintf(stderr, "bench_map: %s\n", cause);
		free(cause);
		free(hpath);
		return -1;
	}
	nhdus = f->nhdus;
	fits_file_free(f);
	if ((buf = slurp(hpath, &len)) == NULL) {
		free(hpath);
		return -1;
	}
	/* The mapping load, which the daemon repeats for every file. */
	nload = n < 200 ? n : 200;
	t0 = now();
	for (i = 0; i < nload; i++) {
		if ((bp = load_mapping(ref, c)) == NULL) {
			free(buf);
			free(hpath);
			return -1;
		}
		blueprint_free(bp);
	}
	tl = (now() - t0) / (double)nload;
	bp = load_mapping(ref, c);

	if ((it = calloc(n, sizeof *it)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		t0 = now();
		if ((outlen = map_once(c, bp, hpath, buf, len, t, &nwarn)) == 0)
			break;
		it[i] = (now() - t0) * 1e6;
	}
	if (i < n) {
		free(it);
		blueprint_free(bp);
		free(buf);
		free(hpath);
		return -1;
	}
	printf("%s (%s: %zu HDUs, %zu bytes of headers, %zu bytes of CAOM-2.4, %zu warnings)\n",
	    c->name, c->header, nhdus, len, outlen, nwarn / n);
	printf("  %zu iterations; first %.1f us\n", n, it[0]);
	mn = mean(it, n);
	med = median(it, n);	/* sorts it[] */
	printf("  per iteration: mean %.1f us, median %.1f us, min %.1f us, p90 %.1f us\n", mn,
	    med, it[0], it[n * 9 / 10]);
	for (s = 0, tot = 0; s < NSTEPS; s++)
		tot += t[s];
	for (s = 0; s < NSTEPS; s++)
		printf("    %-16s %9.1f us  %4.1f%%\n", step_names[s], t[s] / (double)n * 1e6,
		    100.0 * t[s] / tot);
	printf("  mapping load (%s), per file in the daemon: %.1f us (not in the loop)\n",
	    c->blueprint ? "blueprint_load" : "legacy_load + legacy_blueprint", tl * 1e6);
	verdict("median per header (incl. parse)", med, "us", c->target_us);
	if (c->python_us_lo == c->python_us_hi)
		printf("  Python reference %s: %.0fx faster\n", c->python_text,
		    c->python_us_lo / med);
	else
		printf("  Python reference %s: %.0f-%.0fx faster\n", c->python_text,
		    c->python_us_lo / med, c->python_us_hi / med);
	free(it);
	blueprint_free(bp);
	free(buf);
	free(hpath);
	return 0;
}

/* Run `caom2ingest map` for the APASS case np times. 0 or -1. */
static int
bench_process(const char *ref, const char *exe, size_t np)
{
	const struct bcase *c = &cases[0];
	char *bp = path_join(ref, c->dir, c->blueprint), *hdr = path_join(ref, c->dir, c->header);
	char lineage[512];
	double *ms, t0, maxrss = 0;
	struct rusage ru;
	int status, fd, r = -1;
	pid_t pid;
	size_t i;

	snprintf(lineage, sizeof lineage, "%s/%s", c->product, c->uri);
	/* Output to stdout, which is /dev/null: never "-o /dev/null" (see bench/README). */
	const char *args[] = { exe, "map", "--observation", c->collection, c->id,
		"--blueprint", bp, "--lineage", lineage, "--local", hdr, NULL };

	if ((ms = calloc(np, sizeof *ms)) == NULL)
		abort();
	for (i = 0; i < np; i++) {
		t0 = now();
		if ((pid = fork()) == -1) {
			perror("bench_map: fork");
			goto out;
		}
		if (pid == 0) {
			if ((fd = open("/dev/null", O_WRONLY)) >= 0)
				dup2(fd, STDOUT_FILENO);
			execv(exe, (char *const *)(uintptr_t)args);
			fprintf(stderr, "bench_map: %s: %s\n", exe, strerror(errno));
			_exit(127);
		}
		if (wait4(pid, &status, 0, &ru) != pid) {
			perror("bench_map: wait4");
			goto out;
		}
		ms[i] = (now() - t0) * 1e3;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench_map: %s map failed (status %d)\n", exe, status);
			goto out;
		}
		if (ru.ru_maxrss / 1024.0 > maxrss)
			maxrss = ru.ru_maxrss / 1024.0;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("caom2ingest map processes, APASS case (%zu runs, output to /dev/null; "
	    "forked from %.1f MB)\n", np, ru.ru_maxrss / 1024.0);
	t0 = median(ms, np);
	printf("  wall: median %.2f ms, min %.2f ms, max %.2f ms; peak RSS of one %.1f MB\n",
	    t0, ms[0], ms[np - 1], maxrss);
	verdict("median wall per map process", t0, "ms", TARGET_PROCESS_MS);
	verdict("peak RSS of a map process", maxrss, "MB", TARGET_RSS_MB);
	printf("  Python reference 1.1-2.0 s/process: %.0f-%.0fx faster\n",
	    PYTHON_PROCESS_MS_LO / t0, PYTHON_PROCESS_MS_HI / t0);
	r = 0;
out:
	free(ms);
	free(bp);
	free(hdr);
	return r;
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench_map [-n N] [-m N] [-p N] [-x CAOM2INGEST] "
	    "[-r REFERENCE_DIR]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *ref = getenv("CAOM2INGEST_REFERENCE"), *exe = "src/caom2ingest";
	long n = 20000, m = 200, np = 20;
	struct rusage ru;
	int ch, r = 0;

	if (ref == NULL || *ref == '\0')
		ref = BENCH_REFERENCE_DIR;
	while ((ch = getopt(argc, argv, "n:m:p:x:r:")) != -1) {
		switch (ch) {
		case 'n': n = atol(optarg); break;
		case 'm': m = atol(optarg); break;
		case 'p': np = atol(optarg); break;
		case 'x': exe = optarg; break;
		case 'r': ref = optarg; break;
		default: return usage();
		}
	}
	if (optind != argc || n <= 0 || m <= 0 || np < 0)
		return usage();
	if (*ref == '\0') {
		fprintf(stderr, "bench_map: no reference tree (-r, CAOM2INGEST_REFERENCE, "
		    "or configure --with-reference)\n");
		return 2;
	}
	/*
	 * The processes first, while this one is small: a child's ru_maxrss
	 * includes the RSS it had when it was forked, before the exec.
	 */
	caom_xml_init();
	if (np > 0)
		r |= bench_process(ref, exe, (size_t)np) != 0;
	r |= bench_case(ref, &cases[0], (size_t)n) != 0;
	getrusage(RUSAGE_SELF, &ru);
	verdict("peak RSS of this process so far", ru.ru_maxrss / 1024.0, "MB", TARGET_RSS_MB);
	r |= bench_case(ref, &cases[1], (size_t)m) != 0;
	getrusage(RUSAGE_SELF, &ru);
	verdict("peak RSS of this process so far", ru.ru_maxrss / 1024.0, "MB", TARGET_RSS_MB);
	caom_xml_cleanup();
	return r;
}
