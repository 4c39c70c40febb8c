using Proofsheet.Tasks;

namespace Proofsheet.Hub;

/// <summary>
/// The Hub speaks of images and buttons: the shared actions word their refusals for API clients
/// (field names, wire statuses); this turns them into what a reviewer sees on the page.
/// </summary>
public static class HubWords
{
    public static string Say(Outcome outcome)
    {
        if (outcome.Field is "image_id" or "index" && outcome.Kind == OutcomeKind.Invalid)
        {
            return outcome.Detail?.StartsWith("Select an image first", StringComparison.Ordinal) == true
                ? "Choose an image first: click one of the images (or press its number), then press Approve & Publish."
                : "That image is not one of this task's images any more; choose another one.";
        }
        if (outcome.Field == DraftStamp.StaleField)
        {
            return "Someone else saved this draft while you were editing it, so nothing was saved. "
                + "Their version is in the form now; yours is shown beside it: copy what you want to keep, then save again.";
        }
        if (outcome.Field == "num_variations")
        {
            return outcome.Detail?.Replace("images can be generated at once", "images can be on their way at once", StringComparison.Ordinal) ?? "";
        }
        var text = outcome.Detail ?? "That did not work; try again.";
        foreach (var status in Enum.GetValues<WorkflowStatus>())
        {
            text = text.Replace(status.ToWire(), HubUrls.StatusLabel(status.ToWire()), StringComparison.Ordinal);
        }
        return text;
    }
}
