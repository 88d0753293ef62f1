"""Row blocks: the one block size every kernel walks its rows in.

A kernel never holds a temporary with as many rows as ``X``: it visits its rows in blocks
of about :data:`BLOCK_ELEMENTS` numbers (``rows x row_width``), so that a block of ``X``
(2 MiB in float64) stays in cache between the products that read it, and the scratch
arrays are bounded whatever ``n`` is. ``row_width`` is the width of the widest array a
kernel forms per row: ``p`` for a converted block of ``X``, ``max(p, K)`` for the
value-and-gradient sweep, ``(K-1)(p+1)`` for the Hessian's work matrix. The block size
was measured best of ``2**14`` to ``2**22`` on the benchmark problems (docs/solvers.md).

Kernels that pass over each block of ``X`` several times with a few small temporaries --
the value-and-gradient sweep, the preparation's column read (extremes, Gram, sums, class
sums) and the class sums that must equal that read's -- take blocks of
:data:`READ_ELEMENTS` (2¹⁶) numbers instead: the block of ``X`` and its temporaries then
stay in a 2 MiB L2 cache (issue-speed10: the sweep 17-24% faster, the column read 8-19%).
"""

from __future__ import annotations

__all__ = [
    "BLOCK_ELEMENTS",
    "READ_ELEMENTS",
    "READ_MIN_ROWS",
    "block_rows",
    "column_read_blocks",
    "row_blocks",
]

# Numbers per row block (2 MiB of float64).
BLOCK_ELEMENTS = 2**18


#: Numbers per row block of the kernels that read a block of ``X`` several times (module
#: docstring): 512 KiB of float64.
READ_ELEMENTS = 2**16
#: Fewest rows of the preparation's column read and of the class sums that equal it
#: (:func:`column_read_blocks`): on wide X, 2¹⁶ numbers would leave a few dozen rows per
#: rank-k update of the Gram matrix (the lead's review of issue-speed10, one thread, best
#: of 3: 6000 x 1500 0.230 s with 43 rows, 0.205 s with 128; 40000 x 400, 1M x 50 and
#: 2M x 10 equal either way).
READ_MIN_ROWS = 128


def block_rows(row_width: int, min_rows: int = 1, *, read: bool = False) -> int:
    """Rows per block for temporaries ``row_width`` numbers wide.

    Parameters
    ----------
    row_width : int
        Numbers per row of the widest per-block temporary.
    min_rows : int, default=1
        Fewest rows of a block, for kernels whose BLAS calls lose speed on few rows.
    read : bool, default=False
        Blocks of :data:`READ_ELEMENTS` numbers (the kernels that read a block several
        times) instead of :data:`BLOCK_ELEMENTS`; either is looked up at the call, so a
        test that shrinks it reaches every kernel.

    Returns
    -------
    int
        ``max(min_rows, elements // row_width)``, at least 1.
    """
    size = READ_ELEMENTS if read else BLOCK_ELEMENTS
    return max(min_rows, size // max(row_width, 1), 1)


def row_blocks(
    n_rows: int, row_width: int, min_rows: int = 1, *, read: bool = False
) -> list[slice]:
    """Consecutive row slices covering ``0 .. n_rows`` of :func:`block_rows` rows each.

    Parameters
    ----------
    n_rows : int
    row_width, min_rows : int
        As for :func:`block_rows`.
    read : bool, default=False
        As for :func:`block_rows`.

    Returns
    -------
    list of slice
        The last one may be shorter; empty for ``n_rows == 0``.
    """
    step = block_rows(row_width, min_rows, read=read)
    return [slice(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]


def column_read_blocks(n_rows: int, row_width: int) -> list[slice]:
    """The row blocks of the preparation's column read, and of the class sums that must
    equal its sums bit for bit: :data:`READ_ELEMENTS` numbers, at least
    :data:`READ_MIN_ROWS` rows (both looked up at the call).

    Parameters
    ----------
    n_rows : int
    row_width : int
        ``max(p, K)``.

    Returns
    -------
    list of slice
    """
    return row_blocks(n_rows, row_width, READ_MIN_ROWS, read=True)
