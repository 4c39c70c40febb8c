using Microsoft.EntityFrameworkCore;
using Proofsheet.Images;

namespace Proofsheet.Tasks;

/// <summary>The focal point: the point of a candidate that the card, hero and social crops must keep.</summary>
public sealed partial class TaskActions
{
    /// <summary>Sets the point (fractions 0–1 of width and height), or with null clears it so the crops follow libvips' attention strategy.</summary>
    public async Task<Outcome> SetFocusAsync(string imageId, FocalPoint? focus, CancellationToken ct)
    {
        if (focus is not null && (focus.X is < 0 or > 1 || focus.Y is < 0 or > 1 || double.IsNaN(focus.X) || double.IsNaN(focus.Y)))
        {
            return Outcome.Invalid("x", "Give both x and y as fractions from 0 (left, top) to 1 (right, bottom), or neither to use the automatic crop.");
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        var image = await db.Images.SingleOrDefaultAsync(i => i.Id == imageId, ct);
        if (image is null)
        {
            return Outcome.NotFound("There is no such image.");
        }
        // Its crops were made when it was published; a discarded image gets none.
        if (image.Status is CandidateStatus.Published or CandidateStatus.Discarded)
        {
            return Outcome.Conflict("The image is already published or discarded; its crops are made.");
        }
        image.FocusX = focus?.X;
        image.FocusY = focus?.Y;
        await db.SaveChangesAsync(ct);
        return Outcome.Done;
    }
}
