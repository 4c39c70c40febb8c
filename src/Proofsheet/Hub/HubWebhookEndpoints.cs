using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Proofsheet.Data;
using Proofsheet.People;
using Proofsheet.Webhooks;

namespace Proofsheet.Hub;

/// <summary>The Hub's webhook page: the outbox at a glance, and the deliveries that gave up, each with a button to send it again.</summary>
internal static class HubWebhookEndpoints
{
    public static RouteGroupBuilder MapHubWebhooks(this RouteGroupBuilder hub)
    {
        // Settings: the admins'.
        hub.MapGet("/webhooks", PageAsync).Allow(Access.Admin);
        hub.MapPost("/webhooks/{id}/redeliver", RedeliverAsync).Allow(Access.Admin);
        return hub;
    }

    private static async Task<IResult> PageAsync(
        HttpContext http, AppDbContext db, WebhookHousekeeping housekeeping, IOptions<WebhookOptions> options, bool? redelivered, CancellationToken ct)
    {
        var dead = await housekeeping.DeadAsync(WebhooksPage.Limit, ct);
        var pending = await db.WebhookDeliveries.CountAsync(d => d.NextAttemptAt != null, ct);
        var delivered = await db.WebhookDeliveries.CountAsync(d => d.DeliveredAt != null, ct);
        return new RazorComponentResult<WebhooksPage>(new
        {
            Hub = HubContext.For(http, "health"),
            Dead = dead,
            Pending = pending,
            Delivered = delivered,
            options.Value.RetentionDays,
            Notice = redelivered switch
            {
                true => "The notification is queued and goes out now.",
                false => "That notification is no longer waiting to be sent again (it was delivered or queued already).",
                null => null,
            },
        });
    }

    private static async Task<IResult> RedeliverAsync(string id, HttpContext http, IAntiforgery antiforgery, WebhookHousekeeping housekeeping, CancellationToken ct)
    {
        if (!await antiforgery.IsRequestValidAsync(http) || !Ids.IsValid(id))
        {
            return TypedResults.BadRequest();
        }
        var queued = await housekeeping.RedeliverAsync(id, ct);
        return TypedResults.Redirect($"/hub/webhooks?redelivered={(queued ? "true" : "false")}");
    }
}
