"""Opt-outs honoured by the collectors that download from the web (``harvest search``, ``reddit``).

Four signals, each checked once per host or per image and recorded per row in the ``optout`` column
(``SIGNAL: what (where)``):

=========  ==========================================================  =========================
signal     what                                                        when
=========  ==========================================================  =========================
robots     robots.txt ``Disallow`` for gleanset or ``*`` (RFC 9309)     before the request
tdmrep     ``/.well-known/tdmrep.json`` rule, ``tdm-reservation: 1``    before the request / on
           response header (W3C TDMRep final report)                   the answer's headers
header     ``X-Robots-Tag: noai``, ``noimageai``, ``noml``             on the answer's headers
xmp        IPTC/PLUS ``DataMining`` prohibiting mining, in the XMP      after the download
=========  ==========================================================  =========================

An image a signal refuses is a row with status ``opted_out`` (never stored); ``--ignore-optout
SIGNAL`` (:class:`OptoutPolicy.ignore`) takes it anyway and leaves ``ignored SIGNAL: ...`` in its
``optout`` column, and the run's lineage entry names what was ignored. Host files are read by
:class:`~harvest.optout.hosts.HostRules`, the rest by the functions of :mod:`harvest.optout.signals`.
"""

from .hosts import HostRules
from .signals import SIGNALS, Finding, HeaderCheck, OptoutPolicy, after_download, merge_notes

__all__ = ["SIGNALS", "Finding", "HeaderCheck", "HostRules", "OptoutPolicy", "after_download",
           "merge_notes"]
