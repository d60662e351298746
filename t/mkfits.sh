# t/mkfits.sh - write small real FITS files for tests (sourced).

# card TEXT: one 80-column FITS card.
card() { printf '%-80s' "$1"; }

# mkfits FILE [EXTRA CARD...]: a 4x3 16-bit image with a celestial WCS.
mkfits() {
	f=$1; shift
	{
		card "SIMPLE  =                    T"
		card "BITPIX  =                   16"
		card "NAXIS   =                    2"
		card "NAXIS1  =                    4"
		card "NAXIS2  =                    3"
		card "CTYPE1  = 'RA---TAN'"
		card "CTYPE2  = 'DEC--TAN'"
		card "CUNIT1  = 'deg     '"
		card "CUNIT2  = 'deg     '"
		card "CRPIX1  =                  2.5"
		card "CRPIX2  =                  2.0"
		card "CRVAL1  =                150.0"
		card "CRVAL2  =                  2.5"
		card "CD1_1   =             -0.00005"
		card "CD1_2   =                  0.0"
		card "CD2_1   =                  0.0"
		card "CD2_2   =              0.00005"
		card "EQUINOX =               2000.0"
		card "RADESYS = 'FK5     '"
		card "DATE-OBS= '2024-03-01T04:05:06'"
		for c in "$@"; do card "$c"; done
		card "END"
	} > "$f.hdr"
	n=$(wc -c < "$f.hdr")
	pad=$(( (2880 - n % 2880) % 2880 ))
	{ cat "$f.hdr"; head -c "$pad" /dev/zero | tr '\0' ' '; head -c 2880 /dev/zero; } > "$f"
	rm -f "$f.hdr"
}

