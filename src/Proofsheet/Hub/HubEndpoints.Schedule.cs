using System.Globalization;
using Microsoft.AspNetCore.Antiforgery;
using Proofsheet.Tasks;

namespace Proofsheet.Hub;

/// <summary>Scheduling from the task page: a time picked in the reader's zone, stored in UTC; changed or cancelled before it fires.</summary>
public static partial class HubEndpoints
{
    private static void MapScheduleForms(RouteGroupBuilder hub)
    {
        hub.MapPost("/tasks/{id}/schedule", RescheduleAsync);
        hub.MapPost("/tasks/{id}/unschedule", (string id, TaskActions a, HttpContext http) => ActAsync(id, http, a.UnscheduleAsync));
    }

    /// <summary>
    /// The picked time (<c>publish_at_local</c>, as a datetime-local field sends it) in UTC, using the offset
    /// hub.js put in <c>tz_offset</c>; or, when it is missing or not a time to come, what to tell the reader.
    /// </summary>
    private static (DateTime? Utc, string? Error) PickedTime(IFormCollection form, TimeProvider time)
    {
        var local = form["publish_at_local"].ToString();
        if (local.Length == 0)
        {
            return (null, "Pick the date and time the post should go live.");
        }
        if (!DateTime.TryParseExact(local, ["yyyy-MM-ddTHH:mm", "yyyy-MM-ddTHH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var picked)
            || !int.TryParse(form["tz_offset"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var minutes) || minutes is < -14 * 60 or > 14 * 60)
        {
            return (null, "That time could not be read; pick it again with the date and time picker.");
        }
        var iso = new DateTimeOffset(picked, TimeSpan.FromMinutes(minutes)).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture);
        var checks = new Checks();
        var utc = PublishTime.Check(checks, iso, time, required: true);
        return checks.Ok
            ? (utc, null)
            : (null, utc <= time.GetUtcNow().UtcDateTime
                ? "That time has passed; pick a time to come."
                : $"Pick a time within {PublishTime.MaxAhead.TotalDays:0} days.");
    }

    private static async Task<IResult> RescheduleAsync(string id, HttpContext http, IAntiforgery antiforgery, TaskActions actions, TimeProvider time, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var form = await http.Request.ReadFormAsync(ct);
        var (utc, error) = PickedTime(form, time);
        if (utc is null)
        {
            return await FailAsync(id, http, new FormFailure(error!, 400), ct);
        }
        var outcome = await actions.RescheduleAsync(id, utc.Value, Actor(http.User), ct);
        return outcome.Kind == OutcomeKind.Ok
            ? TypedResults.Redirect(HubUrls.Task(id))
            : await FailAsync(id, http, new FormFailure(HubWords.Say(outcome), 409), ct);
    }
}
